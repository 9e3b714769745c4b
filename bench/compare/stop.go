package main

import "context"

func (b *bench) stopSection(ctx context.Context) (string, error) { return "## 2. Stop\n\nTODO\n", nil }
