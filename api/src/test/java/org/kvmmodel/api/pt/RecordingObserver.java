package org.kvmmodel.api.pt;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Records engine events as text lines. */
final class RecordingObserver implements PageTableObserver {

  final List<String> events = Collections.synchronizedList(new ArrayList<>());
  final List<WriteKind> kinds = Collections.synchronizedList(new ArrayList<>());
  int allocated;
  int unlinked;
  int freed;

  @Override
  public void entryWritten(
      WriteKind kind,
      PageTablePage table,
      int index,
      int level,
      long gfn,
      long oldValue,
      long newValue) {
    kinds.add(kind);
    entryChanged(table, index, level, gfn, oldValue, newValue);
  }

  @Override
  public void entryChanged(
      PageTablePage table, int index, int level, long gfn, long oldValue, long newValue) {
    events.add(String.format("L%d gfn=%#x %#x->%#x", level, gfn, oldValue, newValue));
  }

  @Override
  public void tableAllocated(PageTablePage table, int level, long gfn) {
    allocated++;
  }

  @Override
  public void tableUnlinked(PageTablePage table, int level, long gfn) {
    unlinked++;
  }

  @Override
  public void tableFreed(PageTablePage table) {
    freed++;
  }
}
