package sqlite

// ResumSQL recomputes every row's checksum in SQL: tests that write a
// column directly run it to check what the decoder makes of the value
// itself, past the checksum.
const ResumSQL = resumSQL
