package org.kvmmodel.core.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringWriter;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.KernelEvent;

/** The event log's exports and the evidence it hands a violation. */
class EventLogTests {

  @Test
  void everyJsonLineHasEachKeyOnce() throws IOException {
    EventLog log = new EventLog(64);
    for (Tracepoint tp : Tracepoint.values()) {
      log.emit(tp, 1, 2, 3);
    }
    StringWriter out = new StringWriter();
    log.writeJsonLines(out);
    Pattern key = Pattern.compile("\"([a-z_]+)\":");
    for (String line : out.toString().split("\n")) {
      Set<String> keys = new HashSet<>();
      Matcher m = key.matcher(line);
      while (m.find()) {
        assertTrue(keys.add(m.group(1)), "key " + m.group(1) + " twice in " + line);
      }
    }
  }

  @Test
  void evidenceIsTheActorsEventsSinceItsInnermostEntryPoint() {
    EventLog log = new EventLog(64);
    log.emit(Tracepoint.MMU_LOCK, 1, 0, 0);
    log.emit(Tracepoint.KVM_PAGE_FAULT, 0x1000, 2, 0);
    log.emit(Tracepoint.MMU_INVALIDATE_SEQ, 4, 0, 0);
    log.emit(Tracepoint.KVM_CALL, 0, 0, 0);
    log.emit(Tracepoint.KVM_CALL_DONE, 0, 0, 0);
    log.emit(Tracepoint.FOLIO_MARK_DIRTY, 0x10, 1, 0);
    List<KernelEvent> events = log.entryEvents(5, log.currentActor());
    assertEquals(List.of("kvm_page_fault", "mmu_invalidate_seq", "kvm_call", "kvm_call_done",
        "folio_mark_dirty"), events.stream().map(KernelEvent::name).toList());
    assertEquals(4L, events.get(1).fields().get("mmu_seq"));
  }
}
