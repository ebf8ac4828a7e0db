package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.kvmmodel.core.scenario.Conformance;
import org.kvmmodel.mutants.CatalogMutant;
import org.kvmmodel.mutants.MutantCatalog;
import org.kvmmodel.mutants.MutantHunt;
import org.kvmmodel.mutants.MutantVerdict;

/**
 * The catalogued KVM bugs re-created as mutants: each is caught, with every check hunting it,
 * by the check whose invariant the catalogue names, while the real plugin passes the same
 * schedules; and the catalogue lists every bug once, expressible or waiting.
 */
class CatalogMutantsTests {

  static Stream<Arguments> expected() {
    return Stream.of(
        Arguments.of("B02", "PERMISSIONS", "writable-after-log-protect"),
        Arguments.of("B07", "TLB-COHERENT", "replaced-without-break"),
        Arguments.of("B09", "DIRTY-PROTECTED", "no-mmu-lock"),
        Arguments.of("B15", "REFCOUNT-BALANCED", "reference-leaked"),
        Arguments.of("B22", "LIVENESS", "zap-livelock"),
        Arguments.of("B31", "REFCOUNT-BALANCED", "table-leaked"));
  }

  @ParameterizedTest(name = "{0} caught by {1}")
  @MethodSource("expected")
  void eachReCreatedBugIsCaughtAndTheRealPluginPasses(String id, String check, String kind) {
    MutantVerdict v = MutantHunt.hunt(mutant(id), Conformance.defaults(), 50, done -> {});
    assertTrue(v.caught(), id + ": " + v.message());
    assertEquals(check, v.check());
    assertEquals(kind, v.violation().kind(), v.message());
    assertFalse(v.control().foundViolation());
    assertEquals(v.schedules(), v.control().explored(), "the control runs the same schedules");
  }

  @Test
  void aTableLeftBehindByABlockIsNamedAtTeardown() {
    MutantVerdict v = MutantHunt.hunt(mutant("B31"), Conformance.defaults(), 50, done -> {});
    assertEquals("1 stage-2 page-table page(s) were still allocated after kvm_destroy_vm",
        v.message());
  }

  @Test
  void theFastPathsDirtyMarkingIsOutsideMmuLock() {
    MutantVerdict v = MutantHunt.hunt(mutant("B09"), Conformance.defaults(), 50, done -> {});
    assertTrue(v.message().matches("folio 0x[0-9a-f]+ marked dirty without mmu_lock held"),
        v.message());
  }

  @Test
  void aWalkThatStepsPastWhereItYieldedLeavesGfnsWritableUnderLogging() {
    MutantVerdict v = MutantHunt.hunt(mutant("B02"), Conformance.defaults(), 50, done -> {});
    assertTrue(v.message().matches("Turning on dirty logging for slot 0 returned with gfn"
        + " 0x[0-9a-f]+ still writable at stage 2, and no guest fault or log mark touched it"
        + " since"), v.message());
  }

  @Test
  void everyCataloguedBugIsListedOnce() {
    List<String> ids = MutantCatalog.ids();
    assertEquals(19, ids.size(), ids.toString());
    assertEquals(19, new HashSet<>(ids).size(), ids.toString());
    Set<String> expressed = new HashSet<>();
    MutantCatalog.mutants().forEach(m -> expressed.add(m.id()));
    expected().forEach(a -> assertTrue(expressed.remove((String) a.get()[0])));
    assertTrue(expressed.isEmpty(), "every mutant has an expectation here: " + expressed);
  }

  @Test
  void aBudgetBelowOneIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> MutantHunt.hunt(mutant("B07"), Conformance.defaults(), 0, done -> {}));
    assertEquals("--budget must be at least 1", e.getMessage());
  }

  private static CatalogMutant mutant(String id) {
    return MutantCatalog.mutants().stream().filter(m -> m.id().equals(id)).findFirst()
        .orElseThrow();
  }
}
