package main

import "context"

func (b *bench) spawn(ctx context.Context) (string, error) { return "## 1. Spawn\n\nTODO\n", nil }
