//! The unified kernel image: systemd's EFI stub with the os-release, the command line (with the
//! root hash), the kernel and the initrd as PE sections. Bookworm has no ukify, so objcopy adds
//! the sections; objcopy stamps the PE header with the current time, which is set back to the
//! epoch here (and the header checksum recomputed).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use super::rootfs::Tree;
use super::spec::Spec;
use crate::cmd;

const STUB: &str = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
const PAGE: u64 = 4096;

/// Builds `out/legatura.efi`.
pub(crate) fn build(
    spec: &Spec,
    tree: &Tree,
    roothash: &str,
    epoch: i64,
    work: &Path,
    out: &Path,
) -> Result<PathBuf> {
    let osrel = work.join("os-release");
    std::fs::write(
        &osrel,
        format!(
            "ID=legatura\nNAME=\"Legătura {role} appliance\"\nIMAGE_ID=legatura-{role}\nIMAGE_VERSION={epoch}\n",
            role = spec.role.name()
        ),
    )?;
    let cmdline = work.join("cmdline");
    std::fs::write(&cmdline, format!("roothash={roothash} {}", spec.cmdline))?;

    // Each section starts on the page after the previous one ends, after the stub's own.
    let sections = [
        (".osrel", osrel.as_path()),
        (".cmdline", cmdline.as_path()),
        (".linux", tree.kernel.as_path()),
        (".initrd", tree.initrd.as_path()),
    ];
    let mut vma = align(stub_end()?);
    let efi = out.join("legatura.efi");
    let mut objcopy = Command::new("objcopy");
    for (name, file) in sections {
        objcopy
            .arg("--add-section")
            .arg(format!("{name}={}", file.display()))
            .arg("--change-section-vma")
            .arg(format!("{name}={vma:#x}"));
        vma = align(vma + std::fs::metadata(file)?.len());
    }
    cmd::run(objcopy.arg(STUB).arg(&efi))?;

    let mut bytes = std::fs::read(&efi)?;
    pin_timestamp(&mut bytes, epoch)?;
    std::fs::write(&efi, bytes)?;
    Ok(efi)
}

fn align(x: u64) -> u64 {
    x.div_ceil(PAGE) * PAGE
}

/// Where the stub's last section ends (VMA + size), from `objdump -h`.
fn stub_end() -> Result<u64> {
    let text = cmd::stdout_of(Command::new("objdump").args(["-h", "-w", STUB]))?;
    let mut end = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 7 && f[0].bytes().all(|b| b.is_ascii_digit()) {
            let size = u64::from_str_radix(f[2], 16)?;
            let vma = u64::from_str_radix(f[3], 16)?;
            end = end.max(vma + size);
        }
    }
    if end == 0 {
        bail!("objdump listed no sections of {STUB}");
    }
    Ok(end)
}

/// Sets the COFF header's TimeDateStamp to `epoch` and recomputes the optional header's
/// CheckSum (the PE algorithm: 16-bit one's-complement sum with the checksum field as zero,
/// plus the file length).
fn pin_timestamp(b: &mut [u8], epoch: i64) -> Result<()> {
    let read32 = |b: &[u8], at: usize| -> Result<u32> {
        b.get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_le_bytes)
            .context("truncated PE header")
    };
    let pe = read32(b, 0x3c)? as usize;
    if b.get(pe..pe + 4) != Some(b"PE\0\0") {
        bail!("not a PE file");
    }
    let stamp = pe + 8;
    let checksum = pe + 24 + 64;
    if b.len() < checksum + 4 {
        bail!("truncated PE header");
    }
    // The PE field is 32 bits; dates past 2106 wrap, as every PE tool does.
    b[stamp..stamp + 4].copy_from_slice(&(epoch as u32).to_le_bytes());
    b[checksum..checksum + 4].fill(0);
    let mut sum: u64 = 0;
    for pair in b.chunks(2) {
        let word = u64::from(pair[0]) | pair.get(1).map_or(0, |&h| u64::from(h) << 8);
        sum += word;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    let total = (sum + b.len() as u64) as u32;
    b[checksum..checksum + 4].copy_from_slice(&total.to_le_bytes());
    Ok(())
}
