// Types of @invoiceflow/client/react (hand-written; the runtime is src/react.js).

import type {
  ClientOptions,
  InvoiceflowClient,
  ProcessingFile,
  ProcessingInput,
  ProcessingOptions,
  ProcessingStore,
} from "./index.js";

export type { ProcessingFile, ProcessingInput, ProcessingOptions } from "./index.js";

export interface UseAsyncProcessingOptions {
  /** Gateway origin; default: this page's origin. */
  baseUrl?: string;
  apiKey?: string | null;
  /** Options sent with every start call that passes none. */
  processingOptions?: ProcessingOptions;
  WebSocket?: ClientOptions["WebSocket"];
  fetch?: ClientOptions["fetch"];
  reconnect?: ClientOptions["reconnect"];
  /** Use this client instead of making one (its connection is then left open on unmount). */
  client?: InvoiceflowClient;
  /** Use this store instead of making one (shared state between components). */
  store?: ProcessingStore;
}

export interface AsyncProcessing {
  isConnected: boolean;
  files: readonly ProcessingFile[];
  filesMap: Readonly<Record<string, ProcessingFile>>;
  startBatchProcessing(
    files: Iterable<ProcessingInput> | ArrayLike<ProcessingInput>,
    options?: ProcessingOptions,
  ): Promise<ProcessingFile[]>;
  startSingleProcessing(file: ProcessingInput, options?: ProcessingOptions): Promise<ProcessingFile>;
  resetProcessing(): void;
  /** Start a failed file again, in its place. */
  retry(taskId: string): Promise<ProcessingFile | null>;
}

export function useAsyncProcessing(options?: UseAsyncProcessingOptions): AsyncProcessing;
export default useAsyncProcessing;
