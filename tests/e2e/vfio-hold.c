// vfio-hold GROUP: holds IOMMU group GROUP the way QEMU does while it runs a VM with a device of
// that group, and waits until it is killed. Built by tests/e2e/run (static) into the guest as
// /usr/bin/vfio-hold; the rollback scenario uses it to get a refusal from the real kernel.
//
// What QEMU's vfio_connect_container() does, minus the DMA mappings (Documentation/driver-api/
// vfio.rst, "VFIO Usage Example"):
//   open /dev/vfio/vfio (a container), check VFIO_API_VERSION and VFIO_TYPE1_IOMMU;
//   open /dev/vfio/GROUP, VFIO_GROUP_GET_STATUS must say VIABLE (every device of the group on
//   vfio-pci, pci-stub, pcieport or unbound);
//   VFIO_GROUP_SET_CONTAINER: the kernel claims the group's DMA for this user
//   (drivers/iommu/iommu.c iommu_group_claim_dma_owner), so from now on a driver that uses the
//   kernel's DMA API (every driver but vfio-*, pci-stub and pcieport: driver_managed_dma) cannot
//   probe a device of the group: pci_dma_configure -> iommu_device_use_default_domain -> -EBUSY;
//   VFIO_SET_IOMMU(VFIO_TYPE1_IOMMU): the group is attached to the container's IOMMU domain.
// Prints "vfio-hold: holding IOMMU group N (pid P)" once all of that worked; exit 1 otherwise.
// Closing the descriptors (on exit) gives the group back to the kernel.
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int die(const char* what) {
  fprintf(stderr, "vfio-hold: %s: %s\n", what, strerror(errno));
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: vfio-hold IOMMU-GROUP\n");
    return 2;
  }
  char path[64];
  snprintf(path, sizeof path, "/dev/vfio/%s", argv[1]);
  int container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
  if (container < 0) return die("open /dev/vfio/vfio");
  if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
    errno = EINVAL;
    return die("VFIO_GET_API_VERSION");
  }
  if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) != 1) {
    errno = ENOTSUP;
    return die("VFIO_CHECK_EXTENSION(VFIO_TYPE1_IOMMU)");
  }
  int group = open(path, O_RDWR | O_CLOEXEC);
  if (group < 0) return die(path);
  struct vfio_group_status status = {.argsz = sizeof status};
  if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0) return die("VFIO_GROUP_GET_STATUS");
  if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
    errno = EPERM;
    return die("group not viable (a device of it is on a host driver)");
  }
  if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
    return die("VFIO_GROUP_SET_CONTAINER");
  if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0) return die("VFIO_SET_IOMMU");

  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  printf("vfio-hold: holding IOMMU group %s (pid %d)\n", argv[1], (int)getpid());
  fflush(stdout);
  while (!stop) pause();
  printf("vfio-hold: releasing IOMMU group %s\n", argv[1]);
  return 0;
}
