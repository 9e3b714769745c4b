package main

import "context"

func (b *bench) restart(ctx context.Context) (string, error) { return "## 3. Restart latency\n\nTODO\n", nil }
