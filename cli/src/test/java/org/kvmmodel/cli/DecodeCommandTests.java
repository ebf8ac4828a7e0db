package org.kvmmodel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DecodeCommandTests {

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    return Main.run(new PrintWriter(out), new PrintWriter(err), args);
  }

  /** The text output as field label to value, in order. */
  private Map<String, String> fields() {
    Map<String, String> fields = new LinkedHashMap<>();
    for (String line : out.toString().split("\n")) {
      int colon = line.indexOf(": ");
      fields.put(line.substring(0, colon), line.substring(colon + 1).trim());
    }
    return fields;
  }

  @Test
  void arm64BlockAndLockedEntry() {
    assertEquals(0, run("decode", "--arch", "arm64", "--arch-config", "4k-ipa40-fwb-ha-mte",
        "--level", "2", "0x00400000402007d9"));
    Map<String, String> f = fields();
    assertEquals("leaf", f.get("kind"));
    assertEquals("block", f.get("type [1]"));
    assertEquals("0x6 (normal write-back, forced)", f.get("memattr [5:2]"));
    assertEquals("true", f.get("s2ap-write [7]"));
    assertEquals("true", f.get("xn [54]"));
    assertEquals("0x40200000", f.get("output-address [47:12]"));
    assertEquals("2 MiB", f.get("mapping-size"));
    out.getBuffer().setLength(0);
    assertEquals(0, run("decode", "--arch", "arm64", "--level", "3", "0x400"));
    assertEquals("frozen", fields().get("kind"));
    assertEquals("KVM_INVALID_PTE_LOCKED", fields().get("special"));
  }

  @Test
  void fourKibLeaf() {
    assertEquals(0, run("decode", "--arch", "x86", "--level", "1", "0x8600000012345B37"));
    Map<String, String> f = fields();
    assertEquals("x86", f.get("arch"));
    assertEquals("ept4-ad (ept 4-level, a/d on)", f.get("config"));
    assertEquals("0x8600000012345b37", f.get("value"));
    assertEquals("leaf", f.get("kind"));
    assertEquals("true", f.get("valid"));
    assertEquals("true", f.get("write [1]"));
    assertEquals("6 (wb)", f.get("memtype [5:3]"));
    assertEquals("false", f.get("page-size [7]"));
    assertEquals("true", f.get("host-writable [57]"));
    assertEquals("true", f.get("mmu-writable [58]"));
    assertEquals("enabled", f.get("ad-type [53:52]"));
    assertEquals("0x12345000", f.get("page-address [51:12]"));
    assertEquals("4 KiB", f.get("mapping-size"));
    assertEquals("", err.toString());
  }

  @Test
  void twoMibHugeLeafWithoutAdBits() {
    assertEquals(
        0, run("decode", "--arch", "x86", "--arch-config", "ept5-noad", "--level", "2", "0x8610000040000BB7"));
    Map<String, String> f = fields();
    assertEquals("leaf", f.get("kind"));
    assertEquals("true", f.get("page-size [7]"));
    assertEquals("disabled", f.get("ad-type [53:52]"));
    assertEquals("2 MiB", f.get("mapping-size"));
    assertEquals("0x40000000", f.get("page-address [51:12]"));
  }

  @Test
  void tableEntry() {
    assertEquals(0, run("decode", "--arch", "x86", "--level", "4", "0x8000000001234907"));
    Map<String, String> f = fields();
    assertEquals("table", f.get("kind"));
    assertEquals("0x1234000", f.get("table-address [51:12]"));
    assertFalse(f.containsKey("mapping-size"));
    assertFalse(f.containsKey("host-writable [57]"));
  }

  @Test
  void mmioSpteWithItsGeneration() {
    assertEquals(0, run("decode", "--arch", "x86", "--level", "1", "0x7FF00000FEC007FE"));
    Map<String, String> f = fields();
    assertEquals("mmio", f.get("kind"));
    assertEquals("false", f.get("valid"));
    assertEquals("0x7ffff", f.get("mmio-generation [62:52,10:3]"));
    assertEquals("0xfec00", f.get("mmio-gfn [51:12]"));
    out.getBuffer().setLength(0);
    // generation 0x1a5: 0xa5 in bits 10:3, 0x1 in bits 62:52
    assertEquals(0, run("decode", "--arch", "x86", "--level", "1", "0x001000000000152e"));
    assertEquals("0x1a5", fields().get("mmio-generation [62:52,10:3]"));
    out.getBuffer().setLength(0);
    assertEquals(0, run("decode", "--arch", "x86", "--level", "1", "--format", "json", "0x001000000000152e"));
    String json = out.toString();
    assertTrue(json.contains("\"kind\":\"mmio\",\"valid\":false,\"leaf\":false"), json);
    assertTrue(json.contains("\"writable\":false"), json);
    assertTrue(json.contains("\"mmioGeneration\":421,"), json);
    assertFalse(json.contains("outputAddress"), json);
  }

  @Test
  void frozenSpte() {
    assertEquals(0, run("decode", "--arch", "x86", "--level", "3", "0x80000000000005a0"));
    assertEquals("frozen", fields().get("kind"));
    assertEquals("FROZEN_SPTE", fields().get("special"));
  }

  @Test
  void emptySpteIsBit63() {
    assertEquals(0, run("decode", "--arch", "x86", "--level", "1", "9223372036854775808"));
    assertEquals("empty", fields().get("kind"));
    assertEquals("SHADOW_NONPRESENT_VALUE", fields().get("special"));
  }

  @Test
  void accessTrackedSpte() {
    // A/D disabled leaf aged: R saved at 54, X at 56, RWX and A clear, bit 11 kept
    assertEquals(0, run("decode", "--arch", "x86", "--arch-config", "ept4-noad", "--level", "1", "0x8750000000001a30"));
    Map<String, String> f = fields();
    assertEquals("access-tracked", f.get("kind"));
    assertEquals("false", f.get("valid"));
    assertEquals("true", f.get("saved-read [54]"));
    assertEquals("true", f.get("saved-execute [56]"));
    assertEquals("false", f.get("accessed [8]"));
    assertEquals("0x1000", f.get("page-address [51:12]"));
  }

  @Test
  void brokenWritableInvariantIsInvalid() {
    assertEquals(0, run("decode", "--arch", "x86", "--level", "1", "0x8000000012345b37"));
    assertEquals("invalid", fields().get("kind"));
    assertEquals("writable without MMU-writable", fields().get("problem"));
  }

  @Test
  void jsonOutput() {
    assertEquals(
        0, run("decode", "--arch", "x86", "--level", "2", "--format", "json", "0x8600000000200bb7"));
    String json = out.toString().trim();
    assertTrue(json.startsWith("{\"arch\":\"x86\",\"config\":\"ept4-ad\",\"format\":\"ept 4-level, a/d on\","
        + "\"value\":\"0x8600000000200bb7\",\"level\":2,\"kind\":\"leaf\",\"valid\":true,\"leaf\":true,"
        + "\"table\":false,\"readable\":true,\"writable\":true,\"executable\":true,\"accessed\":true,"
        + "\"dirty\":true,\"outputAddress\":\"0x200000\",\"mappingSize\":2097152,\"fields\":["), json);
    assertTrue(json.contains("{\"name\":\"page-size\",\"bits\":\"7\",\"value\":\"true\"}"), json);
    assertTrue(json.endsWith("]}"), json);
  }

  @Test
  void riscvGstageLeafPointerAndEmptyEntry() {
    // PAGE_WRITE_EXEC | D for pfn 0x80000 at level 1: a 2 MiB leaf.
    assertEquals(0, run("decode", "--arch", "riscv", "--arch-config", "sv48x4-svadu", "--level", "1",
        "0x200000df"));
    Map<String, String> f = fields();
    assertEquals("sv48x4-svadu (riscv g-stage sv48x4 (4 levels, 50-bit gpa))", f.get("config"));
    assertEquals("leaf", f.get("kind"));
    assertEquals("true", f.get("u [4]"));
    assertEquals("0x80000", f.get("ppn [53:10]"));
    assertEquals("0x80000000", f.get("page-address"));
    assertEquals("2 MiB", f.get("mapping-size"));
    out.getBuffer().setLength(0);
    assertEquals(0, run("decode", "--arch", "riscv", "--level", "2", "0x20000c01"));
    f = fields();
    assertEquals("sv39x4-svade (riscv g-stage sv39x4 (3 levels, 41-bit gpa))", f.get("config"));
    assertEquals("table", f.get("kind"));
    assertEquals("0x80003000", f.get("table-address"));
    out.getBuffer().setLength(0);
    assertEquals(0, run("decode", "--arch", "riscv", "--level", "0", "0"));
    assertEquals("empty", fields().get("kind"));
  }

  @Test
  void unknownArchListsTheArchesFound() {
    assertEquals(Main.EXIT_USAGE, run("decode", "--arch", "sparc", "--level", "1", "0"));
    assertEquals("kvmmodel decode: unknown arch 'sparc' (plugins found: arm64, riscv, x86)\n", err.toString());
    assertEquals("", out.toString());
  }

  @Test
  void unknownConfiguration() {
    assertEquals(Main.EXIT_USAGE, run("decode", "--arch", "x86", "--arch-config", "npt", "--level", "1", "0"));
    assertEquals(
        "kvmmodel decode: arch x86 has no configuration 'npt' (known: ept4-ad, ept4-noad, ept5-ad, ept5-noad)\n",
        err.toString());
  }

  @Test
  void missingLevel() {
    assertEquals(Main.EXIT_USAGE, run("decode", "--arch", "x86", "0x1"));
    assertEquals(
        "kvmmodel decode: --level is required for x86 ept4-ad: a descriptor's meaning depends on its level (1..4)\n",
        err.toString());
  }

  @Test
  void levelOutOfRange() {
    assertEquals(Main.EXIT_USAGE, run("decode", "--arch", "x86", "--level", "5", "0x1"));
    assertEquals("kvmmodel decode: level 5 is out of range for x86 ept4-ad (1..4)\n", err.toString());
    err.getBuffer().setLength(0);
    assertEquals(0, run("decode", "--arch", "x86", "--arch-config", "ept5-ad", "--level", "5", "0x8000000000000000"));
    assertEquals(Main.EXIT_USAGE, run("decode", "--arch", "x86", "--level", "0", "0x1"));
  }

  @Test
  void unparseableValue() {
    for (String bad : new String[] {"0xZZ", "12abc", "0x", "0x1ffffffffffffffff", "18446744073709551616"}) {
      err.getBuffer().setLength(0);
      assertEquals(Main.EXIT_USAGE, run("decode", "--arch", "x86", "--level", "1", bad), bad);
      assertEquals(
          "kvmmodel decode: cannot parse '" + bad + "' as a 64-bit descriptor (hex 0x... or unsigned decimal)\n",
          err.toString());
    }
  }

  @Test
  void helpWorks() {
    assertEquals(0, run("decode", "--help"));
    assertTrue(out.toString().startsWith("Usage: kvmmodel decode"), out.toString());
    assertTrue(out.toString().contains("--level=L"), out.toString());
  }
}
