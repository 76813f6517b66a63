/**
 * Learning-rate schedules as plain JSON specs (so experiment configs and checkpoints carry them),
 * evaluated by step count t = 0, 1, 2, ... (t = number of steps taken before this one).
 */

export interface ConstantSchedule {
  readonly kind: 'constant';
  readonly lr: number;
}

/** η_t = lr · γ^⌊t / every⌋ */
export interface StepSchedule {
  readonly kind: 'step';
  readonly lr: number;
  readonly every: number;
  readonly gamma: number;
}

/** η_t = min + ½(lr − min)(1 + cos(π·min(t, T)/T)): lr at t = 0, min from t = T on. */
export interface CosineSchedule {
  readonly kind: 'cosine';
  readonly lr: number;
  readonly totalSteps: number;
  readonly minLr?: number;
}

/**
 * Linear warm-up, then cosine decay: η_t = lr·(t + 1)/W for t < W (from lr/W up to lr), then
 * η_t = min + ½(lr − min)(1 + cos(π·min(t − W, T − W)/(T − W))): lr at t = W, min from t = T on.
 */
export interface WarmupCosineSchedule {
  readonly kind: 'warmup-cosine';
  readonly lr: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
  readonly minLr?: number;
}

export type Schedule = ConstantSchedule | StepSchedule | CosineSchedule | WarmupCosineSchedule;
export type ScheduleKind = Schedule['kind'];

type Evaluators = { [K in ScheduleKind]: (s: Extract<Schedule, { kind: K }>, t: number) => number };

export const schedules: Evaluators = {
  constant: (s) => s.lr,
  step: (s, t) => s.lr * s.gamma ** Math.floor(t / s.every),
  cosine: (s, t) => {
    const min = s.minLr ?? 0;
    return min + 0.5 * (s.lr - min) * (1 + Math.cos((Math.PI * Math.min(t, s.totalSteps)) / s.totalSteps));
  },
  'warmup-cosine': (s, t) => {
    const W = s.warmupSteps;
    if (t < W) return (s.lr * (t + 1)) / W;
    const min = s.minLr ?? 0;
    const span = s.totalSteps - W;
    return min + 0.5 * (s.lr - min) * (1 + Math.cos((Math.PI * Math.min(t - W, span)) / span));
  },
};

/** The learning rate at step t (t ≥ 0, an integer); the schedule was checked by validateSchedule. */
export function learningRate(s: Schedule, t: number): number {
  return (schedules[s.kind] as (s: Schedule, t: number) => number)(s, t);
}

/** Checks a schedule's numbers once, at construction, with the offending value in the message. */
export function validateSchedule(s: Schedule): void {
  const bad = (what: string): never => {
    throw new Error(`schedule ${JSON.stringify(s)}: ${what}`);
  };
  if (!(s.kind in schedules)) bad(`unknown kind (known: ${Object.keys(schedules).join(', ')})`);
  if (!(Number.isFinite(s.lr) && s.lr >= 0)) bad('lr must be a finite number ≥ 0');
  if (s.kind === 'step' && !(Number.isInteger(s.every) && s.every > 0)) bad('every must be a positive integer');
  if (s.kind === 'step' && !(s.gamma > 0)) bad('gamma must be > 0');
  if ((s.kind === 'cosine' || s.kind === 'warmup-cosine') && !(Number.isInteger(s.totalSteps) && s.totalSteps > 0)) {
    bad('totalSteps must be a positive integer');
  }
  if ((s.kind === 'cosine' || s.kind === 'warmup-cosine') && !(s.minLr === undefined || (s.minLr >= 0 && s.minLr <= s.lr))) {
    bad('minLr must be in [0, lr]');
  }
  if (s.kind === 'warmup-cosine' && !(Number.isInteger(s.warmupSteps) && s.warmupSteps >= 0 && s.warmupSteps < s.totalSteps)) {
    bad('warmupSteps must be an integer in [0, totalSteps)');
  }
}
