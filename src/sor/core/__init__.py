"""Value types, errors and the compiled kernels shared by every part of sor."""
