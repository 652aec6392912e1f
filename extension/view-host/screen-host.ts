// The script of the "Screen" webview view: shows the guest's screen (a PNG from the adapter) and,
// in text modes, its text console as selectable text; forwards the keys pressed while the screen
// has focus (KeyboardEvent.code and the modifiers) to the extension.

export {}; // a module: its names stay its own

interface VsCodeApi {
  postMessage(message: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

type HostMessage =
  | { type: 'screen'; png: string; width: number; height: number; mode: 'text' | 'graphics'; text?: string; running: boolean; count: number }
  | { type: 'message'; text: string };

const vscode = acquireVsCodeApi();
const status = document.getElementById('status') as HTMLDivElement;
const screen = document.getElementById('screen') as HTMLDivElement;
const image = document.getElementById('image') as HTMLImageElement;
const text = document.getElementById('text') as HTMLPreElement;
const MODIFIERS = new Set(['ShiftLeft', 'ShiftRight', 'ControlLeft', 'ControlRight', 'AltLeft', 'AltRight', 'MetaLeft', 'MetaRight']);

window.addEventListener('message', (e: MessageEvent<HostMessage>) => {
  const m = e.data;
  if (m.type === 'screen') {
    image.onload = () => {
      document.body.dataset.width = String(image.naturalWidth);
      document.body.dataset.height = String(image.naturalHeight);
      document.body.dataset.count = String(m.count);
      vscode.postMessage({ type: 'rendered', width: image.naturalWidth, height: image.naturalHeight });
    };
    image.src = `data:image/png;base64,${m.png}`;
    status.textContent = `${m.width}x${m.height}, ${m.mode === 'text' ? 'text mode' : 'graphics'} · ${m.running ? 'running' : 'stopped'} · click the screen to type into the guest`;
    document.body.dataset.mode = m.mode;
    text.hidden = m.mode !== 'text';
    if (m.mode === 'text' && m.text !== undefined) text.textContent = m.text;
  } else if (m.type === 'message') {
    status.textContent = m.text;
  }
});

screen.addEventListener('keydown', (e: KeyboardEvent) => {
  if (MODIFIERS.has(e.code)) return; // sent with the key they modify
  e.preventDefault();
  e.stopPropagation();
  vscode.postMessage({ type: 'key', code: e.code, shift: e.shiftKey, ctrl: e.ctrlKey, alt: e.altKey, meta: e.metaKey });
});
screen.addEventListener('mousedown', () => screen.focus());

vscode.postMessage({ type: 'ready' });
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') vscode.postMessage({ type: 'ready' });
});
