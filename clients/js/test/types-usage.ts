// Compiled with `tsc -p .` (no emit): the hand-written .d.ts files must describe how a frontend
// uses the client. Lines marked @ts-expect-error must stay errors.
import {
  createClient,
  createProcessingStore,
  InvoiceflowError,
  type ProcessingFile,
  type TaskUpdate,
} from "../src/index.js";
import useAsyncProcessing from "../src/react.js";

async function frontend(files: File[]): Promise<string[]> {
  const client = createClient({ baseUrl: "http://localhost:8000", apiKey: null });
  const store = createProcessingStore(client, { processingOptions: { auto_save: true } });
  const started: ProcessingFile[] = await store.startBatchProcessing(files, {
    confidence_threshold: 0.9,
    model_provider: "local",
  });
  const snapshot = store.getSnapshot();
  const first = snapshot.filesMap[started[0].task_id];
  const updates: readonly TaskUpdate[] = first.updates;
  const seqs = updates.map((update) => update.seq);
  const total: string | null | undefined = first.result?.invoice.total as string | null | undefined;
  try {
    await client.status(first.task_id);
  } catch (error) {
    if (error instanceof InvoiceflowError) console.log(error.status, error.code, error.message);
  }
  // @ts-expect-error status is one of the four task statuses
  const wrong: ProcessingFile["status"] = "done";
  void wrong;
  void total;
  return seqs.map(String);
}

function Component(): number {
  const { isConnected, files, filesMap, startBatchProcessing, startSingleProcessing, resetProcessing } =
    useAsyncProcessing({ baseUrl: "" });
  void startBatchProcessing;
  void startSingleProcessing;
  resetProcessing();
  // @ts-expect-error the hook has no such field
  void useAsyncProcessing().uploadAll;
  return (isConnected ? 1 : 0) + files.length + Object.keys(filesMap).length;
}

void frontend;
void Component;
