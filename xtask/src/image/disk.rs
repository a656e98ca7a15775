//! The file systems and the disk, all made from files without mounting anything: mkfs.erofs and
//! `veritysetup format` for the root, mkfs.fat and mtools for the ESP, sfdisk for the GPT.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use super::sha256;
use super::spec::Spec;
use crate::cmd;

const MIB: u64 = 1024 * 1024;

/// Discoverable Partitions Specification type GUIDs: the ESP, the x86-64 root and its verity
/// hash partition; the state partition is plain Linux data, found by its label.
const TYPE_ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const TYPE_ROOT: &str = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
const TYPE_VERITY: &str = "2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5";
const TYPE_DATA: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

/// The verified root: the erofs image, its hash tree, and the hash the UKI carries.
#[derive(Debug)]
pub(crate) struct RootFs {
    pub(crate) erofs: PathBuf,
    pub(crate) verity: PathBuf,
    pub(crate) roothash: String,
}

/// `root.erofs` and `root.verity` in `out`.
pub(crate) fn root_fs(spec: &Spec, tree: &Path, epoch: i64, out: &Path) -> Result<RootFs> {
    let erofs = out.join("root.erofs");
    let verity = out.join("root.verity");
    // erofs sorts directory entries itself; the time and UUID are fixed here.
    cmd::run(
        Command::new("mkfs.erofs")
            .args(["--quiet", "-zlz4hc"])
            .arg(format!("-T{epoch}"))
            .arg(format!("-U{}", spec.ids.erofs))
            .arg(&erofs)
            .arg(tree),
    )?;
    let size = std::fs::metadata(&erofs)?.len();
    if size > spec.disk.root_mib * MIB {
        bail!(
            "the root file system is {} MiB, more than its {} MiB slot (os-image/image.toml)",
            size / MIB,
            spec.disk.root_mib
        );
    }
    // The salt is derived from the content: fixed for the same root, different for another.
    let salt = sha256(&erofs)?;
    let text = cmd::stdout_of(
        Command::new("veritysetup")
            .arg("format")
            .arg(&erofs)
            .arg(&verity)
            .arg(format!("--salt={salt}"))
            .arg(format!("--uuid={}", spec.ids.verity))
            .args(["--data-block-size=4096", "--hash-block-size=4096"]),
    )?;
    let roothash = text
        .lines()
        .find_map(|l| l.strip_prefix("Root hash:"))
        .map(|h| h.trim().to_owned())
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .with_context(|| format!("veritysetup printed no root hash:\n{text}"))?;
    if std::fs::metadata(&verity)?.len() > spec.disk.verity_mib * MIB {
        bail!(
            "the verity hash tree outgrew its {} MiB partition",
            spec.disk.verity_mib
        );
    }
    std::fs::write(out.join("roothash"), format!("{roothash}\n"))?;
    Ok(RootFs {
        erofs,
        verity,
        roothash,
    })
}

/// Writes the disk: ESP · root A · verity A · root B · verity B (both empty) · state.
pub(crate) fn assemble(
    spec: &Spec,
    root: &RootFs,
    efi: &Path,
    epoch: i64,
    work: &Path,
    disk: &Path,
) -> Result<()> {
    let esp = work.join("esp.img");
    make_esp(spec, efi, epoch, work, &esp)?;

    let d = &spec.disk;
    // 1 MiB before the first partition, 1 MiB after the last for the backup GPT.
    let total = 1 + d.esp_mib + 2 * (d.root_mib + d.verity_mib) + d.state_mib + 1;
    let _ = std::fs::remove_file(disk);
    std::fs::File::create(disk)?.set_len(total * MIB)?;
    // The initrd's verity generator finds slot A by partition UUIDs made of the root hash's
    // two halves.
    let (root_uuid, verity_uuid) = (as_uuid(&root.roothash[..32]), as_uuid(&root.roothash[32..]));
    let ids = &spec.ids;
    let script = format!(
        "label: gpt\nlabel-id: {disk_id}\nfirst-lba: 2048\n\
         start=2048, size={esp}MiB, type={TYPE_ESP}, uuid={esp_id}, name=\"ESP\"\n\
         size={rs}MiB, type={TYPE_ROOT}, uuid={root_uuid}, name=\"root-a\"\n\
         size={vs}MiB, type={TYPE_VERITY}, uuid={verity_uuid}, name=\"root-a-verity\"\n\
         size={rs}MiB, type={TYPE_ROOT}, uuid={rb}, name=\"_empty\"\n\
         size={vs}MiB, type={TYPE_VERITY}, uuid={vb}, name=\"_empty\"\n\
         size={ss}MiB, type={TYPE_DATA}, uuid={st}, name=\"legatura-state\"\n",
        disk_id = ids.disk,
        esp = d.esp_mib,
        esp_id = ids.esp,
        rs = d.root_mib,
        vs = d.verity_mib,
        rb = ids.root_b,
        vb = ids.verity_b,
        ss = d.state_mib,
        st = ids.state,
    );
    let sf = work.join("sfdisk.txt");
    std::fs::write(&sf, &script)?;
    cmd::run(
        Command::new("sh")
            .arg("-c")
            .arg("sfdisk -q --no-reread --no-tell-kernel \"$0\" < \"$1\"")
            .arg(disk)
            .arg(&sf),
    )?;
    // Offsets in MiB follow from the sizes above.
    let starts = [1, 1 + d.esp_mib, 1 + d.esp_mib + d.root_mib];
    for (part, start) in [esp.as_path(), &root.erofs, &root.verity]
        .iter()
        .zip(starts)
    {
        cmd::run(
            Command::new("dd")
                .arg(format!("if={}", part.display()))
                .arg(format!("of={}", disk.display()))
                .args(["bs=1M", "conv=notrunc,sparse", "status=none"])
                .arg(format!("seek={start}")),
        )?;
    }
    Ok(())
}

/// A FAT32 ESP with systemd-boot as the default loader and the UKI in `EFI/Linux`, where
/// systemd-boot finds it without a loader entry.
fn make_esp(spec: &Spec, efi: &Path, epoch: i64, work: &Path, esp: &Path) -> Result<()> {
    std::fs::File::create(esp)?.set_len(spec.disk.esp_mib * MIB)?;
    cmd::run(
        Command::new("mkfs.fat")
            .args(["-F32", "-n", "ESP", "--invariant"])
            .args(["-i", &spec.ids.esp_serial])
            .arg(esp),
    )?;
    let loader = work.join("loader.conf");
    // No menu, no editor: the appliance boots its one entry and a passer-by cannot change the
    // command line.
    std::fs::write(&loader, "timeout 0\neditor no\n")?;
    let bootx64 = Path::new("/usr/lib/systemd/boot/efi/systemd-bootx64.efi");
    // mcopy -m keeps each file's mtime, so every file takes the epoch first.
    let files = [
        (bootx64.to_path_buf(), "::/EFI/BOOT/BOOTX64.EFI"),
        (efi.to_path_buf(), "::/EFI/Linux/legatura-a.efi"),
        (loader, "::/loader/loader.conf"),
    ];
    let mut staged = Vec::new();
    for (i, (src, dest)) in files.iter().enumerate() {
        let copy = work.join(format!("esp-file-{i}"));
        std::fs::copy(src, &copy).with_context(|| format!("copying {}", src.display()))?;
        cmd::run(
            Command::new("touch")
                .arg(format!("--date=@{epoch}"))
                .arg(&copy),
        )?;
        staged.push((copy, *dest));
    }
    let mtools = |c: &mut Command| {
        c.env("MTOOLS_SKIP_CHECK", "1")
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .env("TZ", "UTC");
    };
    let mut mmd = Command::new("mmd");
    mtools(&mut mmd);
    cmd::run(
        mmd.arg("-i")
            .arg(esp)
            .args(["::/EFI", "::/EFI/BOOT", "::/EFI/Linux", "::/loader"]),
    )?;
    for (copy, dest) in staged {
        let mut mcopy = Command::new("mcopy");
        mtools(&mut mcopy);
        cmd::run(mcopy.arg("-i").arg(esp).arg("-m").arg(&copy).arg(dest))?;
        std::fs::remove_file(&copy)?;
    }
    Ok(())
}

/// 32 hex digits as `8-4-4-4-12`.
fn as_uuid(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
