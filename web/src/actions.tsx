/**
 * Action buttons with a confirmation that says exactly what will change: the control plane's plan
 * for this action, fetched when the button is pressed. The action is sent with what the plan saw,
 * so a rollout that moved on meanwhile answers with a conflict and nothing is done.
 */
import { useRef, useState } from 'preact/hooks';
import { call, errorText } from './api.js';

export type ActionName = 'rollback' | 'promote' | 'abort' | 'pause' | 'resume' | 'promote-step';

interface Plan {
  summary: string;
  changes: string[];
  expect: Record<string, unknown>;
}

const LABELS: Record<ActionName, string> = {
  rollback: 'Roll back',
  promote: 'Promote',
  abort: 'Abort',
  pause: 'Pause',
  resume: 'Resume',
  'promote-step': 'Next step',
};

function request(
  action: ActionName,
  service: string,
  env: string,
  from: string | undefined,
  expect: unknown,
) {
  if (action === 'rollback') return ['/v1/rollback', { service, env, expect }] as const;
  if (action === 'promote')
    return ['/v1/promote', { service, from, to: env, approve: true, expect }] as const;
  return ['/v1/command', { command: action, service, env, expect }] as const;
}

export interface ActionTarget {
  action: ActionName;
  service: string;
  env: string;
  from?: string;
  label?: string;
}

let openConfirm: (target: ActionTarget) => void = () => {};

/** A button that asks the one confirmation dialog (ConfirmHost) to open for its action. */
export function ActionButton(props: ActionTarget & { canAct: boolean }) {
  const { action, service, env, canAct } = props;
  const label = props.label ?? LABELS[action];
  return (
    <button
      type="button"
      class={action === 'rollback' || action === 'abort' ? 'danger' : ''}
      disabled={!canAct}
      title={canAct ? undefined : 'Viewers cannot act: an operator token can'}
      aria-label={`${label} ${service} in ${env}`}
      onClick={() => openConfirm(props)}
    >
      {label}
    </button>
  );
}

/**
 * The confirmation dialog, mounted once by the app: it outlives the button that opened it, so a
 * page that changes underneath (the rollout moved on) keeps the dialog and shows the conflict.
 */
export function ConfirmHost() {
  const dialog = useRef<HTMLDialogElement>(null);
  const [target, setTarget] = useState<ActionTarget | undefined>();
  const [plan, setPlan] = useState<Plan | undefined>();
  const [error, setError] = useState('');
  const [result, setResult] = useState('');
  const [busy, setBusy] = useState(false);
  openConfirm = async (t: ActionTarget) => {
    setTarget(t);
    setError('');
    setResult('');
    setPlan(undefined);
    dialog.current?.showModal();
    try {
      const body = { action: t.action, service: t.service, env: t.env, from: t.from };
      setPlan((await call<{ plan: Plan }>('POST', '/v1/plan', body)).plan);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const confirm = async () => {
    if (!plan || !target) return;
    setBusy(true);
    setError('');
    try {
      const [path, body] = request(target.action, target.service, target.env, target.from, plan.expect);
      const out = await call<{ deployment?: { id: string; phase: string; stage: string } }>(
        'POST',
        path,
        body,
      );
      const d = out.deployment;
      setResult(d ? `Done: ${d.id} is ${d.phase} (${d.stage}).` : 'Done.');
      setPlan(undefined);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const label = target ? (target.label ?? LABELS[target.action]) : '';
  return (
    <dialog ref={dialog} aria-labelledby="confirm-title" class="confirm">
      <h2 id="confirm-title">{target ? `${label} ${target.service} in ${target.env}?` : ''}</h2>
      {!plan && !error && !result && <p>Asking the control plane what this will change…</p>}
      {plan && (
        <>
          <p class="summary">{plan.summary}</p>
          <ul>
            {plan.changes.map((c) => (
              <li key={c}>{c}</li>
            ))}
          </ul>
        </>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {result && (
        <p class="ok" role="status">
          {result}
        </p>
      )}
      <div class="buttons">
        {plan && (
          <button type="button" class="danger" disabled={busy} onClick={confirm}>
            Confirm: {label.toLowerCase()}
          </button>
        )}
        <button type="button" onClick={() => dialog.current?.close()}>
          {result ? 'Close' : 'Cancel'}
        </button>
      </div>
    </dialog>
  );
}
