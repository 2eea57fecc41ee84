// Chart and canvas colours, read from the page's CSS custom properties so dark and light both apply.
export interface ChartTheme {
  line: string;
  band: string;
  provisional: string;
  revised: string;
  axis: string;
  grid: string;
}

export function themeColors(): ChartTheme {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    line: v('--chart-line', '#2563eb'),
    band: v('--chart-band', 'rgba(37,99,235,0.18)'),
    provisional: v('--chart-provisional', '#d97706'),
    revised: v('--chart-revised', '#dc2626'),
    axis: v('--fg-muted', '#555'),
    grid: v('--grid', 'rgba(128,128,128,0.2)'),
  };
}
