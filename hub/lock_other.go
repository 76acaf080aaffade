//go:build !unix

package hub

import "context"

func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	return func() {}, nil
}
