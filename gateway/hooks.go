package gateway

import (
	"context"

	"github.com/tinyscale/tinyscale/bbb"
)

// Stubs; replaced by the webhook calls' implementation.

func (g *Gateway) hooksCreate(ctx context.Context, x *exchange) error {
	return bbb.ErrUnsupportedRequest
}
func (g *Gateway) hooksList(ctx context.Context, x *exchange) error { return bbb.ErrUnsupportedRequest }
func (g *Gateway) hooksDestroy(ctx context.Context, x *exchange) error {
	return bbb.ErrUnsupportedRequest
}
