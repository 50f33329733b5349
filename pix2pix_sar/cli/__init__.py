"""The command-line face: parse, call one library function, report errors in one line."""
