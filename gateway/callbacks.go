package gateway

import (
	"context"
	"net/http"

	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fleet"
)

// Stubs; replaced by the callback relay implementation.

// rewriteCreate returns the query to forward for a create placed on b,
// with callback URLs replaced by tinyscale's relay URLs. q is the parsed
// client query (without checksum).
func (g *Gateway) rewriteCreate(ctx context.Context, x *exchange, q bbb.Query, b *fleet.Backend) (string, error) {
	return x.req.ForwardQuery(), nil
}

// restoreMetadata replaces relay URLs in a getMeetingInfo/getMeetings/
// getRecordings answer's metadata with the client's original URLs.
func (g *Gateway) restoreMetadata(body []byte) []byte { return body }

// Callbacks returns the handler for the relay endpoints under
// /tinyscale/callback/ that BBB servers call back.
func (g *Gateway) Callbacks() http.Handler { return http.NotFoundHandler() }
