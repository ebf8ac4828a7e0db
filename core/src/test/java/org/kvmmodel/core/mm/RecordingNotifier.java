package org.kvmmodel.core.mm;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A subscriber that records every callback with the host entry of one watched address and
 * the mm's TLB flush count at that moment, so tests can assert where changes happened.
 */
final class RecordingNotifier implements MmuNotifier {

  final List<String> events = new ArrayList<>();
  final List<MmuNotifierRange> starts = new ArrayList<>();
  final List<Long> pteAtStart = new ArrayList<>();
  final List<Long> pteAtEnd = new ArrayList<>();
  final List<Long> flushesAtStart = new ArrayList<>();
  final List<Long> flushesAtEnd = new ArrayList<>();
  long watch;
  boolean young;
  int releases;

  RecordingNotifier(long watch) {
    this.watch = watch;
  }

  @Override
  public int invalidateRangeStart(MmuNotifierRange range) {
    starts.add(range);
    pteAtStart.add(range.mm().hostPte(watch));
    flushesAtStart.add(range.mm().tlbFlushCount());
    events.add(String.format(
        Locale.US, "start %s 0x%x-0x%x", range.event(), range.start(), range.end()));
    return 0;
  }

  @Override
  public void invalidateRangeEnd(MmuNotifierRange range) {
    pteAtEnd.add(range.mm().hostPte(watch));
    flushesAtEnd.add(range.mm().tlbFlushCount());
    events.add(String.format(
        Locale.US, "end %s 0x%x-0x%x", range.event(), range.start(), range.end()));
  }

  @Override
  public boolean clearFlushYoung(MmStruct mm, long start, long end) {
    events.add(String.format(Locale.US, "clear_flush_young 0x%x-0x%x", start, end));
    boolean was = young;
    young = false;
    return was;
  }

  @Override
  public boolean clearYoung(MmStruct mm, long start, long end) {
    events.add(String.format(Locale.US, "clear_young 0x%x-0x%x", start, end));
    boolean was = young;
    young = false;
    return was;
  }

  @Override
  public boolean testYoung(MmStruct mm, long address) {
    events.add(String.format(Locale.US, "test_young 0x%x", address));
    return young;
  }

  @Override
  public void release(MmStruct mm) {
    releases++;
    events.add("release");
  }
}
