package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// The charts are SVG drawn by gonum.org/v1/plot: a maintained, pure-Go
// plotting library (the Gonum project's) that writes SVG without a browser
// or a JavaScript runtime, so the report's charts are made by the same
// `go run ./bench` that measures, on any machine, and render on GitHub.

// chart is one SVG file of a report, referenced from its Markdown.
type chart struct {
	file, alt string
}

// barGroup is one group of bars (a payload kind) of a bar chart.
type barGroup struct {
	name   string
	values []float64 // one per series
}

// barChart writes grouped bars: one group per kind, one bar per series.
func barChart(path, title, yLabel string, series []string, groups []barGroup) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = yLabel
	p.Y.Min = 0
	const w = 16
	width := vg.Points(w)
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.name
	}
	for s, name := range series {
		vals := make(plotter.Values, len(groups))
		for i, g := range groups {
			vals[i] = g.values[s]
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		b.LineStyle.Width = 0
		b.Color = plotutil.Color(s)
		b.Offset = vg.Points(float64(w) * (float64(s) - float64(len(series)-1)/2))
		p.Add(b)
		p.Legend.Add(name, b)
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(groups))-0.4
	// Head room above the tallest bar, for the legend.
	top := 0.0
	for _, g := range groups {
		for _, v := range g.values {
			top = max(top, v)
		}
	}
	p.Y.Max = top * (1.15 + 0.07*float64(len(series)))
	p.Add(plotter.NewGrid())
	return save(p, path, 8, 4.5)
}

// point is one labelled point of a scatter chart.
type point struct {
	label string
	x, y  float64
}

// scatterChart writes labelled points.
func scatterChart(path, title, xLabel, yLabel string, pts []point) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Y.Min = 0
	p.X.Padding, p.Y.Padding = vg.Points(10), vg.Points(10)
	xys := make(plotter.XYs, len(pts))
	labels := make([]string, len(pts))
	for i, pt := range pts {
		xys[i] = plotter.XY{X: pt.x, Y: pt.y}
		labels[i] = pt.label
	}
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	s.GlyphStyle.Color = plotutil.Color(0)
	s.GlyphStyle.Radius = vg.Points(3)
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Color = color.Gray{Y: 60}
		l.TextStyle[i].Font.Size = vg.Points(8)
		l.TextStyle[i].XAlign = -0.0
	}
	l.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(-3)}
	p.Add(plotter.NewGrid(), s, l)
	return save(p, path, 8, 5)
}

func save(p *plot.Plot, path string, wIn, hIn float64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := p.Save(vg.Length(wIn)*vg.Inch, vg.Length(hIn)*vg.Inch, path); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return nil
}
