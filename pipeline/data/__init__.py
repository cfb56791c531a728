"""The data: reading the raw files, the prepared splits and the names the stages hand each other."""
