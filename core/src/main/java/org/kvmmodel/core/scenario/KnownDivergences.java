package org.kvmmodel.core.scenario;

import java.util.LinkedHashMap;
import java.util.Map;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.api.KnownDivergence;
import org.kvmmodel.api.KvmVersion;

/**
 * The checks real KVM fails at the modelled version, as the plugin declares them
 * ({@link ArchPlugin#knownDivergences}), by check id: a violation of one is reported as
 * {@code known-divergence} with its citation rather than as a failure.
 */
final class KnownDivergences {

  private final Map<String, KnownDivergence> byCheck = new LinkedHashMap<>();

  private KnownDivergences(ArchPlugin plugin, KvmVersion version) {
    for (KnownDivergence d : plugin.knownDivergences(version)) {
      byCheck.putIfAbsent(d.check(), d);
    }
  }

  /** What {@code plugin} declares for {@code version}. */
  static KnownDivergences of(ArchPlugin plugin, KvmVersion version) {
    return new KnownDivergences(plugin, version);
  }

  /** The divergence declared for {@code check}, or null. */
  KnownDivergence declared(String check) {
    return byCheck.get(check);
  }
}
