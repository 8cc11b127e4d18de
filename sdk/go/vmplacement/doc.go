// Declarative placement of libvirt/KVM virtual machines: which host, which storage pool, and how they move there.
package vmplacement
