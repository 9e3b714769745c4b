package main

import "context"

func (b *bench) output(ctx context.Context) (string, error) { return "## 7. Output throughput\n\nTODO\n", nil }
