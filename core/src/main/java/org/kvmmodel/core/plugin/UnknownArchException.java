package org.kvmmodel.core.plugin;

import java.util.List;

/** A configured or requested arch name that no discovered plugin provides. */
public final class UnknownArchException extends IllegalArgumentException {

  private static final long serialVersionUID = 1L;

  private final String name;
  private final List<String> known;

  public UnknownArchException(String name, List<String> known) {
    super("unknown arch '" + name + "' (plugins found: "
        + (known.isEmpty() ? "none" : String.join(", ", known)) + ")");
    this.name = name;
    this.known = List.copyOf(known);
  }

  public String name() {
    return name;
  }

  public List<String> known() {
    return known;
  }
}
