import type { StepTemplate, WorkflowTemplates } from './engine.js';

// The built-in steps are small Node scripts that report progress and echo
// what they were asked to do: a reference server has no cloud to call. A
// deployment replaces them (config: [workflows] steps_dir) with its own
// programs; parameters reach them only through the environment, never a shell.
const node = process.execPath;
const script = (name: string, millis: number): string =>
  `const p=JSON.parse(process.env.PROVISIONING_PARAMS||"{}");` +
  `let i=0;const t=setInterval(()=>{i+=25;console.log("PROGRESS "+i);if(i>=100){clearInterval(t);` +
  `console.log(JSON.stringify({step:${JSON.stringify(name)},infra:process.env.PROVISIONING_INFRA,params:Object.keys(p)}))}},${Math.max(1, Math.round(millis / 4))});`;
const step = (name: string, after: string[] = [], millis = 200): StepTemplate => ({
  name,
  command: node,
  args: ['-e', script(name, millis)],
  after,
});

/** The workflow kinds of the platform: servers, taskserv, cluster and batch. */
export const DEFAULT_TEMPLATES: WorkflowTemplates = {
  servers: [
    step('validate'),
    step('provision', ['validate']),
    step('configure', ['provision']),
    step('verify', ['configure']),
  ],
  taskserv: [step('validate'), step('install', ['validate']), step('verify', ['install'])],
  cluster: [
    step('validate'),
    step('control-plane', ['validate']),
    step('workers', ['control-plane']),
    step('verify', ['workers']),
  ],
  batch: [step('plan'), step('apply', ['plan']), step('report', ['apply'])],
};
