package gateway

import (
	"context"

	"github.com/tinyscale/tinyscale/bbb"
)

// Stubs; replaced by the meeting calls' implementation.

func (g *Gateway) create(ctx context.Context, x *exchange) error { return bbb.ErrUnsupportedRequest }
func (g *Gateway) join(ctx context.Context, x *exchange) error   { return bbb.ErrUnsupportedRequest }
func (g *Gateway) joinError(x *exchange, e *bbb.Error)           { x.fail(e) }
func (g *Gateway) end(ctx context.Context, x *exchange) error    { return bbb.ErrUnsupportedRequest }
func (g *Gateway) isMeetingRunning(ctx context.Context, x *exchange) error {
	return bbb.ErrUnsupportedRequest
}
func (g *Gateway) getMeetingInfo(ctx context.Context, x *exchange) error {
	return bbb.ErrUnsupportedRequest
}
func (g *Gateway) getMeetings(ctx context.Context, x *exchange) error {
	return bbb.ErrUnsupportedRequest
}
func (g *Gateway) byMeeting(ctx context.Context, x *exchange) error { return bbb.ErrUnsupportedRequest }
