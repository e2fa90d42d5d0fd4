package links

// ReadBy lists, for each fleet database (by config var), the links in the
// other fleet databases that read from it, as found in an inventory. Before
// a credential rotation or failover of a database, these are the links it
// will break; after it, the ones to repair.
func ReadBy(inv []DatabaseStatus) map[string][]Link {
	out := map[string][]Link{}
	for _, st := range inv {
		for _, l := range st.Links {
			if l.RemoteConfigVar == "" || l.RemoteConfigVar == st.DB.ConfigVar {
				continue
			}
			out[l.RemoteConfigVar] = append(out[l.RemoteConfigVar], l)
		}
	}
	return out
}
