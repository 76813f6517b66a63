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

export type Schedule = ConstantSchedule | StepSchedule | CosineSchedule;
export type ScheduleKind = Schedule['kind'];

type Evaluators = { [K in ScheduleKind]: (s: Extract<Schedule, { kind: K }>, t: number) => number };

export const schedules: Evaluators = {
  constant: (s) => s.lr,
  step: (s, t) => s.lr * s.gamma ** Math.floor(t / s.every),
  cosine: (s, t) => {
    const min = s.minLr ?? 0;
    return min + 0.5 * (s.lr - min) * (1 + Math.cos((Math.PI * Math.min(t, s.totalSteps)) / s.totalSteps));
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
  if (s.kind === 'cosine' && !(Number.isInteger(s.totalSteps) && s.totalSteps > 0)) {
    bad('totalSteps must be a positive integer');
  }
}
