package gateway

import (
	"context"

	"github.com/tinyscale/tinyscale/bbb"
)

// Stubs; replaced by the recording calls' implementation.

func (g *Gateway) getRecordings(ctx context.Context, x *exchange) error {
	return bbb.ErrUnsupportedRequest
}
func (g *Gateway) byRecordings(ctx context.Context, x *exchange) error {
	return bbb.ErrUnsupportedRequest
}
func (g *Gateway) byRecording(ctx context.Context, x *exchange) error {
	return bbb.ErrUnsupportedRequest
}
