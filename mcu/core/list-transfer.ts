// The staged list transfer of the MCU's link: LIST_BEGIN opens a stage of `count` empty slots,
// LIST_ITEMs fill it (any order, resent items replace), and the list CRC is built as items arrive in
// order (the rest is hashed by LinkEndpoint.work()); LIST_COMMIT makes the whole list current only
// when the count and the CRC match. Nothing of the held list changes before that.
import { crcFinish, crcStart, decimal, hex, type Bytes } from "../../protocol/bytes";
import { decodeListBegin, decodeListCommit, Result } from "../../protocol/messages";
import { type ProfileRecord, sameProfile } from "../../protocol/profile";
import { fail, type LinkEndpoint, okOutcome, type Outcome } from "./link";

export function listBegin(l: LinkEndpoint, p: Bytes): Outcome {
  const d = decodeListBegin(p);
  if (d.value === null) return fail(d.result, "LIST_BEGIN: " + d.error);
  const m = d.value;
  if (m.generation <= l.target.generation()) {
    return fail(Result.OLD_GENERATION, l.oldGenerationText("LIST_BEGIN", m.generation));
  }
  l.staging = true;
  l.stageGeneration = m.generation;
  l.stageCount = m.count;
  l.stageItems = [];
  for (let i = 0; i < m.count; i++) l.stageItems.push(null);
  l.stageHashed = 0;
  l.stageCrc = crcStart();
  return okOutcome();
}

/** A LIST_ITEM whose records were read (and hashed, when `l.itemHashing`) by the link. */
export function listItem(
  l: LinkEndpoint,
  generation: number,
  first: number,
  records: ProfileRecord[],
): Outcome {
  if (generation <= l.target.generation()) {
    return fail(Result.OLD_GENERATION, l.oldGenerationText("LIST_ITEM", generation));
  }
  if (!l.staging) return fail(Result.OUT_OF_ORDER, "LIST_ITEM without LIST_BEGIN: start the transfer first");
  if (generation !== l.stageGeneration) {
    return fail(
      Result.OUT_OF_ORDER,
      "generation " +
        decimal(generation) +
        " is not the transfer in progress (" +
        decimal(l.stageGeneration) +
        ")",
    );
  }
  const n = records.length;
  if (first + n > l.stageCount) {
    return fail(
      Result.INVALID,
      "index " +
        decimal(first + n - 1) +
        " is invalid: the transfer has " +
        decimal(l.stageCount) +
        " profiles",
    );
  }
  for (let k = 0; k < n; k++) {
    const id = records[k].id;
    for (let i = 0; i < l.stageItems.length; i++) {
      const other = l.stageItems[i];
      const inBatch = i >= first && i < first + n;
      const clash = inBatch
        ? i < first + k && records[i - first].id === id
        : other !== null && other.id === id;
      if (clash) {
        return fail(
          Result.INVALID,
          'id "' + id + '" is invalid: already used at index ' + decimal(i) + "; ids must be unique",
        );
      }
    }
  }
  for (let k = 0; k < n; k++) {
    const old = l.stageItems[first + k];
    if (first + k < l.stageHashed && old !== null && !sameProfile(old, records[k])) {
      // An item already in the running CRC changed: start the CRC again (in the background).
      l.stageHashed = 0;
      l.stageCrc = crcStart();
    }
    l.stageItems[first + k] = records[k];
  }
  if (l.itemHashing && first === l.stageHashed) {
    // Hashed record by record as they were read.
    l.stageCrc = l.itemCrc;
    l.stageHashed += n;
  }
  return okOutcome();
}

export function listCommit(l: LinkEndpoint, p: Bytes): Outcome {
  const d = decodeListCommit(p);
  if (d.value === null) return fail(Result.INVALID, "LIST_COMMIT: " + d.error);
  const m = d.value;
  const held = l.target.generation();
  if (m.generation === held && l.target.listCrc() < 0) {
    return fail(Result.BUSY, "still computing the list CRC: retry LIST_COMMIT");
  }
  if (m.generation === held && m.listCrc === l.target.listCrc() && m.count === l.target.profiles().length) {
    return okOutcome(); // a retry of a commit that already happened: nothing to write
  }
  if (m.generation <= held) {
    return fail(Result.OLD_GENERATION, l.oldGenerationText("LIST_COMMIT", m.generation));
  }
  if (!l.staging) return fail(Result.OUT_OF_ORDER, "LIST_COMMIT without LIST_BEGIN");
  if (m.generation !== l.stageGeneration) {
    return fail(
      Result.OUT_OF_ORDER,
      "generation " +
        decimal(m.generation) +
        " is not the transfer in progress (" +
        decimal(l.stageGeneration) +
        ")",
    );
  }
  if (m.count !== l.stageCount) {
    return fail(
      Result.INVALID,
      "count " + decimal(m.count) + " is invalid: LIST_BEGIN announced " + decimal(l.stageCount),
    );
  }
  const records: ProfileRecord[] = [];
  for (let i = 0; i < l.stageItems.length; i++) {
    const r = l.stageItems[i];
    if (r === null)
      return fail(Result.INVALID, "index " + decimal(i) + " is missing: send LIST_ITEM " + decimal(i));
    records.push(r);
  }
  // Items that came out of order are hashed in the background; finish a few here, else BUSY.
  for (let k = 0; k < 2 && l.hashNext(); k++) {
    // bounded
  }
  if (l.stageHashed < l.stageCount) {
    return fail(
      Result.BUSY,
      "still checking the list (" +
        decimal(l.stageHashed) +
        " of " +
        decimal(l.stageCount) +
        " records): retry LIST_COMMIT",
    );
  }
  const c = crcFinish(l.stageCrc);
  if (c !== m.listCrc) {
    return fail(
      Result.INVALID,
      "listCrc 0x" + hex(m.listCrc, 8) + " is invalid: the received records give 0x" + hex(c, 8),
    );
  }
  const o = l.target.commitList(m.generation, records, c);
  if (o.result === Result.OK) {
    l.staging = false;
    l.stageItems = [];
  }
  return o;
}
