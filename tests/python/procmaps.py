"""Which file backs an array's memory, from /proc/self/maps. Standard
library only: the security suite copies this file for other users."""


def mapping_of(array):
    """(permissions, inode, path) of this process's mapping holding the
    first byte of `array` ("" as the path of an anonymous mapping);
    AssertionError if no mapping holds it."""
    address = array.__array_interface__["data"][0]
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            low, high = (int(x, 16) for x in fields[0].split("-"))
            if low <= address < high:
                path = fields[5].rstrip("\n") if len(fields) > 5 else ""
                return fields[1], int(fields[4]), path
    raise AssertionError(f"address {address:#x} is in no mapping")
