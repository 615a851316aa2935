// Entry of a campaign worker thread: register tsx's loader in this thread, then run the
// TypeScript worker (worker.ts). A worker thread does not inherit the loader tsx gave the main thread.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
