package main

import (
	"context"
	"errors"
	"io"
)

// ServersCommand is `tinyscale servers …` (stub; replaced by the admin CLI).
type ServersCommand struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Run implements command.
func (c *ServersCommand) Run(ctx context.Context, args []string) error {
	return errors.New("not implemented")
}
