package main

import "context"

func (b *bench) footprint(ctx context.Context) (string, error) { return "## 6. Footprint\n\nTODO\n", nil }
