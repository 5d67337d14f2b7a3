/**
 * docs/fleet.svg, drawn from two simulated fleets (bench/fleet.ts): calls a second per API as a
 * share of its quota over time, and each rollout pod's time to first write by its start.
 */
import { OPERATIONS, type FleetResult, type Operation } from './fleet-sim.ts';

const WIDTH = 900;
const PANEL = { left: 70, right: 20, height: 230 } as const;
const COLORS: Record<Operation, string> = {
  AssumeRoleWithWebIdentity: '#7b3294',
  BatchGetSecretValue: '#1f77b4',
  GetSecretValue: '#2ca02c',
  GetParameters: '#d62728',
};
const BIN_S = 10;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

/** Mean calls a second over BIN_S-second bins, as a share of the quota. */
function shares(r: FleetResult, op: Operation, from: number, to: number): [number, number][] {
  const series = r.series.calls[op];
  const points: [number, number][] = [];
  for (let t = from; t + BIN_S <= to; t += BIN_S) {
    let sum = 0;
    for (let s = t; s < t + BIN_S; s++) sum += series[s] ?? 0;
    points.push([t + BIN_S / 2, sum / BIN_S / r.quota[op]]);
  }
  return points;
}

function polyline(points: readonly [number, number][], color: string, dash = ''): string {
  const d = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  const dashed = dash === '' ? '' : ` stroke-dasharray="${dash}"`;
  return `<polyline fill="none" stroke="${color}" stroke-width="1.5"${dashed} points="${d}"/>`;
}

function axis(top: number, yTicks: readonly [number, string][], y: (v: number) => number): string {
  const x0 = PANEL.left;
  const x1 = WIDTH - PANEL.right;
  return yTicks
    .map(
      ([v, label]) =>
        `<line x1="${x0}" x2="${x1}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>` +
        `<text x="${x0 - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${esc(label)}</text>`,
    )
    .concat(
      `<rect x="${x0}" y="${top}" width="${x1 - x0}" height="${PANEL.height}" fill="none" stroke="#999"/>`,
    )
    .join('');
}

/** `goal`: the fleet the goals are stated for; `stressed`: the same with SSM's default quota. */
export function drawFleet(goal: FleetResult, stressed: FleetResult): string {
  const parts: string[] = [];
  const x0 = PANEL.left;
  const x1 = WIDTH - PANEL.right;
  // Panel 1: share of quota over time, from one minute before the rollout to the end.
  const top1 = 50;
  const from = Math.max(0, goal.rolloutAt - 60);
  const to = goal.steady.to;
  const xT = (t: number): number => x0 + ((t - from) / (to - from)) * (x1 - x0);
  const maxShare = 1.5;
  const y1 = (v: number): number => top1 + PANEL.height * (1 - Math.min(v, maxShare) / maxShare);
  parts.push(
    `<text x="${x0}" y="${top1 - 22}" font-weight="bold">Calls a second per API, as a share of its quota</text>`,
    `<text x="${x0}" y="${top1 - 8}">${goal.scenario.pods.toLocaleString('en-US')} pods, refresh ${goal.scenario.refreshMs / 60_000} min, a rollout of ${goal.scenario.rolloutPods.toLocaleString('en-US')} pods at ${goal.rolloutAt / 60} min; calls sent (throttled ones included), 10 s means, clipped at 150%</text>`,
    axis(
      top1,
      [
        [0, '0%'],
        [0.5, '50%'],
        [1, '100%'],
        [1.5, '150%'],
      ],
      y1,
    ),
    `<line x1="${x0}" x2="${x1}" y1="${y1(0.5)}" y2="${y1(0.5)}" stroke="#333" stroke-dasharray="2,3"/>`,
  );
  for (let m = Math.ceil(from / 60); m * 60 <= to; m += 5) {
    parts.push(
      `<text x="${xT(m * 60).toFixed(1)}" y="${top1 + PANEL.height + 16}" text-anchor="middle">${m} min</text>`,
    );
  }
  for (const op of OPERATIONS) {
    const pts = shares(goal, op, from, to).map(([t, v]): [number, number] => [xT(t), y1(v)]);
    parts.push(polyline(pts, COLORS[op]));
  }
  const ssm = shares(stressed, 'GetParameters', from, to).map(([t, v]): [number, number] => [
    xT(t),
    y1(v),
  ]);
  parts.push(polyline(ssm, COLORS.GetParameters, '5,4'));
  const legend = [
    ...OPERATIONS.map((op) => [op, COLORS[op], ''] as const),
    ['GetParameters, SSM default quota (40/s)', COLORS.GetParameters, '5,4'] as const,
  ];
  legend.forEach(([label, color, dash], i) => {
    const lx = x0 + 10 + (i % 3) * 270;
    const ly = top1 + PANEL.height + 34 + Math.floor(i / 3) * 16;
    parts.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${dash === '' ? '' : ` stroke-dasharray="${dash}"`}/>`,
      `<text x="${lx + 30}" y="${ly}">${esc(label)}</text>`,
    );
  });
  // Panel 2: time to first write by the pod's start in the rollout.
  const top2 = top1 + PANEL.height + 100;
  const window = goal.scenario.rolloutMs;
  const all = [...goal.firstWrites, ...stressed.firstWrites].map((w) => w.ms);
  const yMax = Math.max(10_000, ...all) * 1.05;
  const xS = (ms: number): number => x0 + (ms / window) * (x1 - x0);
  const y2 = (ms: number): number => top2 + PANEL.height * (1 - ms / yMax);
  const step = yMax > 60_000 ? 30_000 : 5_000;
  const ticks: [number, string][] = [];
  for (let v = 0; v <= yMax; v += step) ticks.push([v, `${v / 1000} s`]);
  parts.push(
    `<text x="${x0}" y="${top2 - 14}" font-weight="bold">Time to first write of each pod of the rollout, by when it started</text>`,
    axis(top2, ticks, y2),
    `<line x1="${x0}" x2="${x1}" y1="${y2(10_000)}" y2="${y2(10_000)}" stroke="#333" stroke-dasharray="2,3"/>`,
  );
  for (let s = 0; s <= window / 1000; s += 10) {
    parts.push(
      `<text x="${xS(s * 1000).toFixed(1)}" y="${top2 + PANEL.height + 16}" text-anchor="middle">${s} s</text>`,
    );
  }
  for (const [r, color] of [
    [stressed, '#ff7f0e'],
    [goal, '#1f77b4'],
  ] as const) {
    for (const w of r.firstWrites)
      parts.push(
        `<circle cx="${xS(w.startMs).toFixed(1)}" cy="${y2(w.ms).toFixed(1)}" r="1.6" fill="${color}"/>`,
      );
  }
  const ly = top2 + PANEL.height + 34;
  parts.push(
    `<circle cx="${x0 + 16}" cy="${ly - 4}" r="3" fill="#1f77b4"/><text x="${x0 + 26}" y="${ly}">SSM higher throughput</text>`,
    `<circle cx="${x0 + 236}" cy="${ly - 4}" r="3" fill="#ff7f0e"/><text x="${x0 + 246}" y="${ly}">SSM default quota</text>`,
    `<text x="${x0 + 456}" y="${ly}">dotted: the 10 s goal</text>`,
  );
  const height = top2 + PANEL.height + 50;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
