package redis_test

import (
	"testing"

	"github.com/tinyscale/tinyscale/store/redis"
)

func TestMain(m *testing.M) {
	// The outage tests make go-redis log every refused dial; keep the test
	// output readable.
	redis.SetLogger(nil)
	m.Run()
}
