package main

import (
	"context"
	"errors"
	"io"
)

// LoadCommand is `tinyscale load` (stub; replaced by the load tool).
type LoadCommand struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Run implements command.
func (c *LoadCommand) Run(ctx context.Context, args []string) error {
	return errors.New("not implemented")
}
