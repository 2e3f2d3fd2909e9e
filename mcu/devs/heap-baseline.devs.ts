// Bench entry: the free heap of an empty program (the baseline the program's use is measured against).
import { probeHeap } from "./heap";

await probeHeap("baseline");
