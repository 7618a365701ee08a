package embedded

import "encoding/binary"

// Keys (all integers big-endian, so they sort by number):
//
//	e <position>                    -> the event's JSON envelope
//	s <stream> 0x00 <version>       -> position
//	i <event_id>                    -> position
//	t <tenant> 0x00 <position>      -> nothing (the tenant's feed)
//	v <stream>                      -> the stream's last version
//	p <tenant>                      -> the position the tenant was purged up to
//	n <stream>                      -> the stream's snapshot (snapshot.go): version,
//	                                   the id of the event at it, the state

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

func eventKey(pos uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 9), 'e'), pos)
}

func streamPrefix(stream string) []byte {
	k := make([]byte, 0, len(stream)+2+8)
	return append(append(append(k, 's'), stream...), 0)
}

func streamKey(stream string, version uint64) []byte {
	return binary.BigEndian.AppendUint64(streamPrefix(stream), version)
}

func idKey(id string) []byte { return append([]byte{'i'}, id...) }

func versionKey(stream string) []byte { return append([]byte{'v'}, stream...) }

func tenantKey(tenant string, pos uint64) []byte {
	k := make([]byte, 0, len(tenant)+2+8)
	k = append(append(append(k, 't'), tenant...), 0)
	return binary.BigEndian.AppendUint64(k, pos)
}

// prefixEnd is the smallest key greater than every key with prefix, for a
// prefix ending in 0x00.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte{}, prefix...)
	end[len(end)-1]++
	return end
}

func purgedKey(tenant string) []byte { return append([]byte{'p'}, tenant...) }

func snapshotKey(stream string) []byte { return append([]byte{'n'}, stream...) }
