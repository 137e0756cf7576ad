package main

import (
	"context"
	"errors"
	"io"
)

// StatusCommand is `tinyscale status` (stub; replaced by the admin CLI).
type StatusCommand struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Run implements command.
func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	return errors.New("not implemented")
}
