// uPlot wrappers of the dashboard: time series in USD, one chart per container, resized with the window.
/* global uPlot */

export const palette = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];

const charts = new Map();

function usdTick(v) {
  if (v == null) return '';
  const a = Math.abs(v);
  if (a >= 1000) return `$${(v / 1000).toFixed(1)}k`;
  if (a >= 1) return `$${v.toFixed(2)}`;
  if (a === 0) return '$0';
  return `$${v.toPrecision(2)}`;
}

function sizeOf(el) {
  return { width: Math.max(300, el.clientWidth), height: el.classList.contains('small') ? 220 : 300 };
}

/**
 * Draws (or redraws) a chart in `el`.
 * @param {HTMLElement} el
 * @param {{ x: number[], series: Array<{ label: string, values: Array<number|null>, color?: string, dash?: number[], fill?: string, bars?: boolean }> }} data x in epoch seconds
 */
export function drawTimeChart(el, data, emptyText = 'No data in this range.') {
  charts.get(el)?.destroy();
  el.textContent = '';
  if (data.x.length === 0 || data.series.length === 0) {
    const p = document.createElement('p');
    p.className = 'muted empty';
    p.textContent = emptyText;
    el.append(p);
    charts.delete(el);
    return;
  }
  const bars = typeof uPlot.paths?.bars === 'function' ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined;
  const opts = {
    ...sizeOf(el),
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [{ stroke: '#6b7280', grid: { stroke: '#eef0f3' } }, { stroke: '#6b7280', grid: { stroke: '#eef0f3' }, size: 70, values: (_u, vals) => vals.map(usdTick) }],
    series: [
      { value: (_u, v) => (v == null ? '' : new Date(v * 1000).toISOString().slice(0, 10)) },
      ...data.series.map((s, i) => ({
        label: s.label,
        stroke: s.color ?? palette[i % palette.length],
        width: 2,
        dash: s.dash,
        fill: s.fill,
        paths: s.bars && bars ? bars : undefined,
        points: { show: data.x.length < 40 },
        value: (_u, v) => (v == null ? '—' : usdTick(v)),
      })),
    ],
  };
  const chart = new uPlot(opts, [data.x, ...data.series.map((s) => s.values)], el);
  charts.set(el, chart);
}

let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const [el, chart] of charts) chart.setSize(sizeOf(el));
  }, 150);
});
