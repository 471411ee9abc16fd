package daemon

import "github.com/nimbus-serverless/nimbus/internal/runtimes"

// runtimeCatalog adapts package runtimes to the small interfaces the pool
// and the Lambda API define for themselves.
type runtimeCatalog struct{}

func (runtimeCatalog) Lookup(name string) (*runtimes.Runtime, error) { return runtimes.Lookup(name) }
func (runtimeCatalog) WriteFiles(dir string) error                   { return runtimes.WriteFiles(dir) }
