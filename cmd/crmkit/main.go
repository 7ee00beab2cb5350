package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/crmkit/crmkit/cmd/crmkit/crmcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := crmcli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
