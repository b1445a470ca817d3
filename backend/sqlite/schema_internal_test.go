package sqlite

import "testing"

// SchemaVersion must name the last migration: a release that appends a
// migration and forgets the constant would write databases it calls old.
func TestSchemaVersionIsLastMigration(t *testing.T) {
	if SchemaVersion != len(migrations) {
		t.Fatalf("SchemaVersion = %d, but there are %d migrations", SchemaVersion, len(migrations))
	}
}
