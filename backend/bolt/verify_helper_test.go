package bolt_test

import (
	"context"

	"github.com/anchorage-db/anchorage/backend"
)

func backendtestVerify(s backend.Store) (*backend.Report, error) {
	return backend.Verify(context.Background(), s)
}
