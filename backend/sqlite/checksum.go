package sqlite

import (
	sqldriver "database/sql/driver"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	sqlite "modernc.org/sqlite"

	"github.com/anchorage-db/anchorage/anchor"
)

// Every stored row carries a crc column: the CRC-32C of the row's table
// name and every other column, key included, in the table's column order
// (see rowSum). A read recomputes it from the columns as SQLite returns
// them, so a flipped byte anywhere in a row, a row moved to another key
// and a value of another storage class are all detected. An anchors row
// also carries fsum, the digest of its field rows (see fieldTerm), which
// its crc covers: a field row that vanished, or came back from an older
// version of the anchor, changes the digest.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sumFunc is the SQL name of rowSum, registered with SQLite so migrations
// (and tests) can compute checksums in SQL.
const sumFunc = "anchorage_crc"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(sumFunc, -1, func(_ *sqlite.FunctionContext, args []sqldriver.Value) (sqldriver.Value, error) {
		if len(args) == 0 {
			return nil, fmt.Errorf("%s: no table name", sumFunc)
		}
		table, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("%s: table name is %T", sumFunc, args[0])
		}
		cols := make([]any, len(args)-1)
		for i, a := range args[1:] {
			cols[i] = a
		}
		return rowSum(table, cols...), nil
	})
}

// rowSum returns the checksum of one row of table: the CRC-32C of the
// table name followed by each column as a type tag and its bytes (NULL;
// integer as 8 bytes; real as its 8 IEEE bytes; text and blob as a length
// and the bytes). An empty blob counts as NULL: SQLite stores a nil []byte
// as NULL and returns an empty blob as a nil []byte, so the two cannot be
// told apart on both paths.
func rowSum(table string, cols ...any) int64 {
	b := make([]byte, 0, 128)
	b = binary.AppendUvarint(b, uint64(len(table)))
	b = append(b, table...)
	h := crc32.Update(0, castagnoli, b)
	for _, c := range cols {
		b = b[:0]
		switch v := c.(type) {
		case nil:
			b = append(b, 0)
		case int64:
			b = binary.BigEndian.AppendUint64(append(b, 1), uint64(v))
		case float64:
			b = binary.BigEndian.AppendUint64(append(b, 2), math.Float64bits(v))
		case string:
			b = binary.AppendUvarint(append(b, 3), uint64(len(v)))
			h = crc32.Update(crc32.Update(h, castagnoli, b), castagnoli, []byte(v))
			continue
		case []byte:
			if len(v) == 0 {
				b = append(b, 0)
				break
			}
			b = binary.AppendUvarint(append(b, 4), uint64(len(v)))
			h = crc32.Update(crc32.Update(h, castagnoli, b), castagnoli, v)
			continue
		case bool:
			b = binary.BigEndian.AppendUint64(append(b, 1), uint64(boolInt(v)))
		default:
			panic(fmt.Sprintf("sqlite: rowSum of a %T column", c))
		}
		h = crc32.Update(h, castagnoli, b)
	}
	return int64(h)
}

// fieldTerm is one field row's share of its anchor's fsum: the row's crc
// plus 2^32, so the digest also counts the rows.
func fieldTerm(crc int64) int64 { return crc + 1<<32 }

// crcOK reports whether the stored crc column holds want.
func crcOK(stored any, want int64) bool {
	n, ok := stored.(int64)
	return ok && n == want
}

// damaged builds the error for a row whose checksum does not match: an
// *anchor.Error naming the anchor (the zero ID when the row names none)
// and wrapping anchor.ErrCorrupt.
func damaged(id anchor.ID, format string, args ...any) error {
	return corrupt(id, "checksum mismatch: "+format, args...)
}
