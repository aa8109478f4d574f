"""Value types and errors shared by every part of sor."""
