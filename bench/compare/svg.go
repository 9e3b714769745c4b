package main

import (
	"fmt"
	"math"
	"strings"
)

// The spawn chart: median spawn time against N, both axes logarithmic, one
// line per contender. It is written by hand as SVG so that the suite needs
// no plotting tool.
const (
	chartW, chartH         = 640, 400
	chartLeft, chartRight  = 70, 190 // margins; the legend goes on the right
	chartTop, chartBottom  = 40, 50
	chartPlotW, chartPlotH = chartW - chartLeft - chartRight, chartH - chartTop - chartBottom
)

var chartColours = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}

// writeSpawnChart writes the chart of the spawn section to path.
func writeSpawnChart(path string, contenders []contender, ns []int, times map[int][][]float64) error {
	return writeFileAtomic(path, []byte(spawnChart(contenders, ns, times)))
}

// spawnChart returns the SVG document.
func spawnChart(contenders []contender, ns []int, times map[int][][]float64) string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, n := range ns {
		for i := range contenders {
			if m := summarize(times[n][i]).median; m > 0 {
				lo, hi = math.Min(lo, m), math.Max(hi, m)
			}
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 1, 10
	}
	yAxis := logAxis{lo: math.Pow(10, math.Floor(math.Log10(lo))), hi: math.Pow(10, math.Ceil(math.Log10(hi)))}
	xAxis := logAxis{lo: float64(ns[0]), hi: float64(ns[len(ns)-1])}
	if xAxis.hi == xAxis.lo {
		xAxis.hi = xAxis.lo * 10
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(&sb, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&sb, `<text x="%d" y="22" font-size="14" font-weight="bold">Time until N instances run (median, log-log)</text>`+"\n", chartLeft)
	chartGrid(&sb, xAxis, yAxis, ns)
	for i, c := range contenders {
		chartSeries(&sb, c.name, chartColours[i%len(chartColours)], i, xAxis, yAxis, ns, times)
	}
	sb.WriteString("</svg>\n")
	return sb.String()
}

// logAxis maps values between lo and hi logarithmically onto [0, 1].
type logAxis struct{ lo, hi float64 }

func (a logAxis) pos(v float64) float64 {
	return (math.Log10(v) - math.Log10(a.lo)) / (math.Log10(a.hi) - math.Log10(a.lo))
}

func chartX(a logAxis, v float64) float64 { return chartLeft + a.pos(v)*chartPlotW }
func chartY(a logAxis, v float64) float64 { return chartTop + (1-a.pos(v))*chartPlotH }

// chartGrid draws the axes, a grid line at each N and each power of ten of
// time, and the axis titles.
func chartGrid(sb *strings.Builder, x, y logAxis, ns []int) {
	fmt.Fprintf(sb, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n", chartLeft, chartTop, chartPlotW, chartPlotH)
	for _, n := range ns {
		px := chartX(x, float64(n))
		fmt.Fprintf(sb, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", px, chartTop, px, chartTop+chartPlotH)
		fmt.Fprintf(sb, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", px, chartTop+chartPlotH+16, n)
	}
	for v := y.lo; v <= y.hi*1.0001; v *= 10 {
		py := chartY(y, v)
		fmt.Fprintf(sb, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", chartLeft, py, chartLeft+chartPlotW, py)
		fmt.Fprintf(sb, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", chartLeft-6, py+4, v)
	}
	fmt.Fprintf(sb, `<text x="%d" y="%d" text-anchor="middle">N (instances)</text>`+"\n", chartLeft+chartPlotW/2, chartH-12)
	fmt.Fprintf(sb, `<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)">ms until all run</text>`+"\n", chartTop+chartPlotH/2, chartTop+chartPlotH/2)
}

// chartSeries draws one contender's line, its points and its legend entry.
func chartSeries(sb *strings.Builder, name, colour string, i int, x, y logAxis, ns []int, times map[int][][]float64) {
	var pts []string
	for _, n := range ns {
		m := summarize(times[n][i]).median
		if m <= 0 {
			continue
		}
		px, py := chartX(x, float64(n)), chartY(y, m)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, py))
		fmt.Fprintf(sb, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s, N=%d: %s ms</title></circle>`+"\n", px, py, colour, name, n, num(m))
	}
	fmt.Fprintf(sb, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), colour)
	ly := chartTop + 10 + 22*i
	fmt.Fprintf(sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", chartW-chartRight+14, ly, chartW-chartRight+38, ly, colour)
	fmt.Fprintf(sb, `<text x="%d" y="%d">%s</text>`+"\n", chartW-chartRight+44, ly+4, name)
}
