"""The application layer: settings and the runs the command line starts."""
